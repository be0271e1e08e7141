//! Every sample in `events/` is a well-formed event of the shape AWS sends, and names
//! objects that `samples/uploads.json` uploads with the same size.

use aws_lambda_events::eventbridge::EventBridgeEvent;
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
    assert!(files.len() >= 6, "{files:?}");
    let mut objects = 0;
    for path in &files {
        let name = path.display();
        let payload: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let records = match event::parse(&payload).unwrap_or_else(|e| panic!("{name}: {e}")) {
            Intake::TestEvent => {
                assert_eq!(payload["Service"], "Amazon S3");
                continue;
            }
            Intake::Records(records) => records,
        };
        // The shape is one aws_lambda_events knows, every field included.
        if payload.get("Records").is_some() {
            let typed: S3Event = serde_json::from_value(payload.clone()).unwrap();
            assert_eq!(typed.records.len(), records.len());
            for typed in &typed.records {
                assert!(
                    typed
                        .event_name
                        .as_deref()
                        .unwrap()
                        .starts_with("ObjectCreated:")
                );
                assert_eq!(typed.event_source.as_deref(), Some("aws:s3"));
            }
        } else {
            let typed: EventBridgeEvent = serde_json::from_value(payload.clone()).unwrap();
            assert_eq!(
                (typed.source.as_str(), typed.detail_type.as_str()),
                ("aws.s3", "Object Created")
            );
        }
        for record in &records {
            let object = record.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                object.etag.is_some() && object.sequencer.is_some(),
                "{name}"
            );
            let upload = uploads
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["key"] == object.key.as_str())
                .unwrap_or_else(|| panic!("{name}: no sample uploads {:?}", object.key));
            let file = project_file(&format!("samples/{}", upload["file"].as_str().unwrap()));
            assert_eq!(object.size, Some(file.len() as u64), "{}", object.key);
            objects += 1;
        }
    }
    assert_eq!(objects, 6);
}
