//! `simgap init`: the starting pipeline it writes runs as it is, and it never overwrites a file without --force.

mod common;

use common::{simgap, stderr};

#[test]
fn init_writes_a_pipeline_that_runs_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("my-study");
    let init = simgap(&["init", project.to_str().unwrap()]);
    assert!(init.status.success(), "{}", stderr(&init));
    for file in ["pipeline.toml", "data/human.jsonl", "data/simulator.jsonl"] {
        assert!(project.join(file).is_file(), "{file}");
    }
    assert!(String::from_utf8_lossy(&init.stdout).contains("simgap run"), "names the next step");

    let pipeline = project.join("pipeline.toml");
    let run = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(project.join("out/report.html").is_file() && project.join("out/tables/main.csv").is_file());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("results: ") && stdout.contains("report.html"), "{stdout}");

    let human = project.join("data/human.jsonl");
    std::fs::write(&human, "mine\n").unwrap();
    let again = simgap(&["init", project.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("pipeline.toml exists"), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&human).unwrap(), "mine\n", "nothing written when one file exists");

    let forced = simgap(&["init", "--force", project.to_str().unwrap()]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(std::fs::read_to_string(&human).unwrap().starts_with("{\"conversation_id\""));
}
