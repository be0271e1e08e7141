//! Every sample in `events/` is a well-formed event of the shape AWS sends: it parses into
//! the ecosystem's types for its shape, the function recognises it, and the objects it
//! creates are the ones `samples/uploads.json` uploads, with the same size.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::s3::batch_job::S3BatchJobEvent;
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::SqsEvent;
use s3_alt_text::event::Action;
use s3_alt_text::event::{self, Invocation, Item};
use serde_json::Value;

use crate::support::{project_dir, sample, uploads};

/// The typed form of each shape, as aws_lambda_events reads it.
fn check_typed(name: &str, payload: &Value) {
    let typed =
        |result: Result<(), serde_json::Error>| result.unwrap_or_else(|e| panic!("{name}: {e}"));
    match name.split('-').next().unwrap() {
        "s3" if payload.get("Records").is_some() => {
            typed(serde_json::from_value::<S3Event>(payload.clone()).map(|_| ()))
        }
        "sqs" => typed(serde_json::from_value::<SqsEvent>(payload.clone()).map(|_| ())),
        "sns" => typed(serde_json::from_value::<SnsEvent>(payload.clone()).map(|_| ())),
        "eventbridge" => {
            typed(serde_json::from_value::<EventBridgeEvent>(payload.clone()).map(|_| ()))
        }
        "batch" => typed(serde_json::from_value::<S3BatchJobEvent>(payload.clone()).map(|_| ())),
        _ => assert_eq!(payload["Event"], "s3:TestEvent", "{name}"),
    }
}

#[test]
fn every_sample_event_is_real_shaped_and_recognised() {
    let uploads = uploads();
    let mut files: Vec<_> = std::fs::read_dir(project_dir().join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut shapes = Vec::new();
    let (mut created, mut removed) = (0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let payload: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        check_typed(name, &payload);
        let items: Vec<Item> =
            match event::parse(&payload).unwrap_or_else(|e| panic!("{name}: {e}")) {
                Invocation::Async(items) => {
                    shapes.push("async");
                    items
                }
                Invocation::Sqs(messages) => {
                    shapes.push("sqs");
                    messages
                        .into_iter()
                        .flat_map(|m| m.items.unwrap_or_else(|e| panic!("{name}: {e}")))
                        .collect()
                }
                Invocation::BatchJob(job) => {
                    shapes.push("batch");
                    job.tasks.into_iter().map(|t| t.item).collect()
                }
            };
        for item in items {
            let object = item.unwrap_or_else(|e| panic!("{name}: {e}"));
            if object.action == Action::Removed {
                removed += 1;
                continue;
            }
            let upload = uploads
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["key"] == object.key.as_str())
                .unwrap_or_else(|| panic!("{name}: no sample uploads {:?}", object.key));
            if let Some(size) = object.size {
                let file = sample(upload["file"].as_str().unwrap());
                assert_eq!(size, file.len() as u64, "{}", object.key);
            }
            created += 1;
        }
    }
    assert_eq!(files.len(), 13);
    assert_eq!((created, removed), (11, 2));
    for shape in ["async", "sqs", "batch"] {
        assert!(shapes.contains(&shape), "no sample of shape {shape}");
    }
}
