//! Bad input never panics the loader: arbitrary text and randomly damaged
//! copies of the example files either load or give a positioned error whose
//! line:col lies inside the text.

use proptest::prelude::*;
use xvs_config::{load_str, ConfigError};

const LAB: &str = include_str!("../../../config/lab.yaml");
const NAT: &str = include_str!("../../../config/nat.yaml");
const MASTER: &str = include_str!("../../../config/master.yaml");

fn assert_position_in_text(text: &str, result: Result<xvs_config::Snapshot, ConfigError>) {
    if let Err(err) = result {
        let loc = err.location().expect("text errors always have a position");
        let lines = text.lines().count().max(1);
        assert!(loc.line >= 1 && loc.col >= 1, "{err}");
        // The end-of-stream position may be one line past the last one.
        assert!(
            loc.line <= lines + 1,
            "{err} is past the end ({lines} lines)"
        );
        assert!(err.to_string().starts_with("fuzz.yaml:"), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        assert_position_in_text(&text, load_str(&text, "fuzz.yaml"));
    }

    #[test]
    fn yamlish_text_never_panics(text in "[a-z_:\\-\\[\\]{}, 0-9./\"\n]{0,300}") {
        assert_position_in_text(&text, load_str(&text, "fuzz.yaml"));
    }

    #[test]
    fn damaged_examples_never_panic(
        which in 0usize..3,
        cut in any::<prop::sample::Index>(),
        insert in "[ \\-:\\[\\]{}0-9a-z\n]{0,4}",
        drop in 0usize..8,
    ) {
        let base = [LAB, NAT, MASTER][which];
        let at = cut.index(base.len() + 1);
        // Cut on char boundaries: comments may hold non-ASCII such as '§'.
        prop_assume!(base.is_char_boundary(at));
        let end = (at + drop).min(base.len());
        prop_assume!(base.is_char_boundary(end));
        let text = format!("{}{}{}", &base[..at], insert, &base[end..]);
        assert_position_in_text(&text, load_str(&text, "fuzz.yaml"));
    }
}
