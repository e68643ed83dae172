//! Reading ahead: a thread of its own pulls the next item of a fallible iterator (the next decoded Parquet batch)
//! while the caller works on the current one, so decoding overlaps with the work.
//!
//! Consumes: an iterator of `Result<T, E>` and what to do with each item. Produces: the items in their order, one
//! ahead (memory: two items). Stops at the first error, the iterator's or the consumer's. Imports no stage.

/// Runs `consume` on every item of `items` in order while a thread of its own reads the next one.
pub fn for_each_prefetched<T: Send, E: Send>(
    items: impl Iterator<Item = Result<T, E>> + Send,
    mut consume: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move || {
            for item in items {
                let failed = item.is_err();
                // A closed channel means the consumer stopped; an error ends the items.
                if sender.send(item).is_err() || failed {
                    break;
                }
            }
        });
        for item in receiver {
            consume(item?)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_arrive_in_order_and_the_first_error_stops_them() {
        let mut seen = Vec::new();
        let ok: Result<(), String> = for_each_prefetched((0..100).map(Ok), |i| {
            seen.push(i);
            Ok(())
        });
        assert_eq!((ok, seen), (Ok(()), (0..100).collect::<Vec<_>>()));
        let mut seen = Vec::new();
        let items = (0..10).map(|i| if i == 3 { Err(format!("bad {i}")) } else { Ok(i) });
        let failed = for_each_prefetched(items, |i| {
            seen.push(i);
            Ok(())
        });
        assert_eq!((failed, seen), (Err("bad 3".to_owned()), vec![0, 1, 2]));
        let stopped =
            for_each_prefetched((0..10).map(Ok::<i32, String>), |i| if i == 5 { Err("enough".into()) } else { Ok(()) });
        assert_eq!(stopped, Err("enough".to_owned()));
    }
}
