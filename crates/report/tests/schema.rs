//! The committed `report.schema.json` must match the types. Regenerate it
//! with `cargo xtask schema` (or `UPDATE_SCHEMA=1 cargo test -p reach-report`).

use std::path::PathBuf;

#[test]
fn committed_schema_is_fresh() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../report.schema.json");
    let mut want = serde_json::to_string_pretty(&reach_report::Report::json_schema()).unwrap();
    want.push('\n');
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        panic!(
            "{} is stale: run `cargo xtask schema` and commit the result",
            path.display()
        );
    }
}
