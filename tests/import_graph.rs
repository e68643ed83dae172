//! The house has no cycle and data flows one way: reads every file under `src/`, resolves the paths it uses
//! (`use` trees, and `crate::` / `super::` / `self::` / `simgap::` / child-module paths in code) to the files that
//! define them, and fails on any cycle of files and on any arrow from a stage to a later stage, to the driver
//! (`pipeline/`) or to the command line (`cli/`). Test modules (from `#[cfg(test)]` on) and comments are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages in the order data flows through them.
const STAGES: [&str; 5] = ["ingest", "features", "cluster", "divergence", "report"];

type ModulePath = Vec<String>;

/// Every source file under `src/`, by module path (`src/a/mod.rs` and `src/a.rs` are `a`; `lib.rs` is the root).
fn modules(root: &Path) -> BTreeMap<ModulePath, PathBuf> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("src/ is readable") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).expect("below src/").with_extension("");
                let mut module: ModulePath =
                    relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    module.pop();
                }
                if path.file_name().is_some_and(|n| n == "main.rs") {
                    continue; // the binary's root only declares `cli` and dispatches
                }
                found.insert(module, path);
            }
        }
    }
    found
}

/// The code of a file without comments and without its test modules.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// `a::{b, c::{d, e}}` as the paths `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut paths = Vec::new();
    expand_into(String::new(), &tree, &mut paths);
    paths
}

fn expand_into(prefix: String, tree: &str, paths: &mut Vec<String>) {
    let mut depth = 0;
    let mut start = 0;
    let bytes = tree.as_bytes();
    let mut parts = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[start..]);
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        match part.find('{') {
            Some(open) => expand_into(format!("{prefix}{}", &part[..open]), &part[open + 1..part.len() - 1], paths),
            None => paths.push(format!("{prefix}{part}")),
        }
    }
}

/// The file a path used in `module` names: the deepest module the path walks into.
fn resolve(modules: &BTreeMap<ModulePath, PathBuf>, module: &ModulePath, path: &str) -> Option<PathBuf> {
    let segments: Vec<&str> = path.split("::").map(|s| s.split(" as ").next().unwrap_or(s)).collect();
    let (mut current, rest): (ModulePath, &[&str]) = match segments.first()? {
        &"crate" | &"simgap" => (Vec::new(), &segments[1..]),
        &"self" => (module.clone(), &segments[1..]),
        &"super" => {
            let mut base = module.clone();
            let supers = segments.iter().take_while(|s| **s == "super").count();
            for _ in 0..supers {
                base.pop()?;
            }
            (base, &segments[supers..])
        }
        first => {
            let mut child = module.clone();
            child.push((*first).to_owned());
            if !modules.contains_key(&child) {
                return None;
            }
            (module.clone(), &segments[..])
        }
    };
    for segment in rest {
        let mut deeper = current.clone();
        deeper.push((*segment).to_owned());
        if modules.contains_key(&deeper) {
            current = deeper;
        } else {
            break;
        }
    }
    modules.get(&current).cloned()
}

/// file -> the files it imports.
fn imports(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let modules = modules(src);
    let use_tree = regex::Regex::new(r"\buse\s+([^;]+);").expect("a valid pattern");
    let inline = regex::Regex::new(r"\b((?:crate|super|self|simgap)(?:::\w+)+)").expect("a valid pattern");
    let child = regex::Regex::new(r"(?:^|[^:\w])([a-z_][a-z0-9_]*)::([A-Za-z_]\w*)").expect("a valid pattern");
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (module, file) in &modules {
        let code = code(&std::fs::read_to_string(file).expect("a readable source file"));
        let mut used: Vec<String> = use_tree.captures_iter(&code).flat_map(|c| expand_use(&c[1])).collect();
        used.extend(inline.captures_iter(&code).map(|c| c[1].to_owned()));
        used.extend(
            child
                .captures_iter(&code)
                .filter(|c| !matches!(&c[1], "crate" | "super" | "self" | "simgap"))
                .map(|c| format!("{}::{}", &c[1], &c[2])),
        );
        let targets = edges.entry(file.clone()).or_default();
        for path in used {
            if let Some(target) = resolve(&modules, module, &path).filter(|t| t != file) {
                targets.insert(target);
            }
        }
    }
    edges
}

/// The files of every cycle (strongly connected component of more than one file).
fn cycles(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    // Kosaraju: finishing order on the graph, then components on the reversed graph.
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for start in edges.keys() {
        if seen.contains(start) {
            continue;
        }
        let mut stack = vec![(start.clone(), false)];
        while let Some((node, done)) = stack.pop() {
            if done {
                order.push(node);
                continue;
            }
            if !seen.insert(node.clone()) {
                continue;
            }
            stack.push((node.clone(), true));
            for next in edges.get(&node).into_iter().flatten() {
                if !seen.contains(next) {
                    stack.push((next.clone(), false));
                }
            }
        }
    }
    let mut reversed: BTreeMap<&PathBuf, Vec<&PathBuf>> = BTreeMap::new();
    for (from, targets) in edges {
        for to in targets {
            reversed.entry(to).or_default().push(from);
        }
    }
    let mut assigned = BTreeSet::new();
    let mut components = Vec::new();
    for node in order.iter().rev() {
        if assigned.contains(node) {
            continue;
        }
        let mut component = Vec::new();
        let mut stack = vec![node];
        while let Some(current) = stack.pop() {
            if !assigned.insert(current.clone()) {
                continue;
            }
            component.push(current.clone());
            stack.extend(reversed.get(current).into_iter().flatten().filter(|n| !assigned.contains(**n)));
        }
        if component.len() > 1 {
            component.sort();
            components.push(component);
        }
    }
    components
}

/// The top-level room of a file under `src/` (`ingest`, `cli`, `hashing.rs`, ...).
fn room(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("below src/");
    relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_file_imports_itself_through_others() {
    let edges = imports(&src());
    let cycles = cycles(&edges);
    let name = |f: &PathBuf| f.strip_prefix(src()).unwrap().display().to_string();
    let described: Vec<String> = cycles
        .iter()
        .map(|c| {
            let inside: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a].iter().filter(|b| c.contains(b)).map(move |b| format!("{} -> {}", name(a), name(b)))
                })
                .collect();
            inside.join("\n")
        })
        .collect();
    assert!(cycles.is_empty(), "files that import each other in a loop:\n{}", described.join("\n"));
}

#[test]
fn data_flows_one_way_through_the_stages() {
    let src = src();
    let mut wrong = Vec::new();
    for (from, targets) in imports(&src) {
        let from_room = room(&src, &from);
        let Some(from_stage) = STAGES.iter().position(|s| *s == from_room) else { continue };
        for to in targets {
            let to_room = room(&src, &to);
            let later_stage = STAGES.iter().position(|s| *s == to_room).is_some_and(|t| t > from_stage);
            if later_stage || to_room == "pipeline" || to_room == "cli" {
                wrong.push(format!("{} -> {}", from.display(), to.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "arrows against the flow ingest -> features -> cluster -> divergence -> report:\n{}", {
        wrong.join("\n")
    });
}

#[test]
fn the_reader_finds_cycles_and_expands_use_trees() {
    assert_eq!(expand_use("a::{b, c::{d, e}}"), ["a::b", "a::c::d", "a::c::e"]);
    let edge = |a: &str, b: &str| (PathBuf::from(a), BTreeSet::from([PathBuf::from(b)]));
    let looped = BTreeMap::from([edge("x", "y"), edge("y", "z"), edge("z", "x"), edge("w", "x")]);
    assert_eq!(cycles(&looped), vec![vec![PathBuf::from("x"), PathBuf::from("y"), PathBuf::from("z")]]);
    let chain = BTreeMap::from([edge("x", "y"), edge("y", "z")]);
    assert!(cycles(&chain).is_empty());
}
