//! Lists of settings (facets, measures) must not name an item twice; every stage checks its lists with this.
//!
//! Consumes: a slice. Produces: the first item that appears a second time. Imports no stage.

/// The first item of a settings list that appears twice (lists of facets must not repeat).
pub fn first_repeated<T: Eq + std::hash::Hash>(items: &[T]) -> Option<&T> {
    let mut seen = std::collections::HashSet::new();
    items.iter().find(|item| !seen.insert(*item))
}

#[cfg(test)]
mod tests {
    use super::first_repeated;

    #[test]
    fn finds_the_first_item_seen_twice() {
        assert_eq!(first_repeated(&["a", "b", "c", "b", "a"]), Some(&"b"));
        assert_eq!(first_repeated::<u8>(&[]), None);
        assert_eq!(first_repeated(&[1, 2, 3]), None);
    }
}
