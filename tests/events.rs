//! Every sample in `events/` is a well-formed event of the shape AWS sends, and names
//! objects that `samples/uploads.json` uploads with the same size.

use aws_lambda_events::s3::S3Event;
use s3_alt_text::event::{self, Intake};
use serde_json::Value;

fn project_file(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_sample_event_deserialises() {
    let uploads: Value = serde_json::from_slice(&project_file("samples/uploads.json")).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut objects = 0;
    for path in &files {
        let payload: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        match event::parse(&payload).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            Intake::TestEvent => assert_eq!(payload["Service"], "Amazon S3"),
            Intake::Records(records) => {
                // The shape is the one aws_lambda_events knows, every field included.
                let typed: S3Event = serde_json::from_value(payload.clone()).unwrap();
                assert_eq!(typed.records.len(), records.len());
                for (record, typed) in records.iter().zip(&typed.records) {
                    let object = record
                        .as_ref()
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert!(
                        typed
                            .event_name
                            .as_deref()
                            .unwrap()
                            .starts_with("ObjectCreated:")
                    );
                    assert_eq!(typed.event_source.as_deref(), Some("aws:s3"));
                    assert!(typed.s3.object.sequencer.is_some() && object.etag.is_some());
                    let upload = uploads
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|u| u["key"] == object.key.as_str())
                        .unwrap_or_else(|| {
                            panic!("{}: no sample uploads {:?}", path.display(), object.key)
                        });
                    let file =
                        project_file(&format!("samples/{}", upload["file"].as_str().unwrap()));
                    assert_eq!(object.size, Some(file.len() as u64), "{}", object.key);
                    objects += 1;
                }
            }
        }
    }
    assert_eq!(objects, 5);
}
