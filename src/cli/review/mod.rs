//! `review`: a local web page listing a bucket's images with their captions, to correct
//! (the same path as `set`) or approve them. It listens on a random loopback port, and its
//! address carries a random token: a request without it is refused.

mod page;
mod server;

use std::process::ExitCode;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::args::Args;
use server::Review;

pub const USAGE: &str = "\
s3-alt-text review --bucket BUCKET [--prefix PREFIX] [--state STATE] [--port PORT]

Starts a web page on this computer (127.0.0.1) to review the captions of BUCKET: every
image as a thumbnail with its caption in each language, who wrote it (a provider, or a
person), its state, and why a failed or skipped image has none. A caption can be edited and
saved (as `s3-alt-text set` does: locked against every provider) or approved as it is.
Pages of 50, filtered by key prefix and state.

The command prints the page's address, with a random token: only that address opens it.
It stops with Ctrl-C.

  --bucket BUCKET    the bucket (required)
  --prefix PREFIX    the first page shows only keys starting with PREFIX
  --state STATE      the first page shows only captioned, failed or skipped records
  --port PORT        listen on this port instead of a free one
";

/// The arguments of `review`.
pub struct ReviewArgs {
    bucket: String,
    prefix: Option<String>,
    state: Option<String>,
    port: u16,
}

pub fn parse(args: &[String]) -> Result<ReviewArgs, String> {
    let args = Args::parse(args, &["--bucket", "--prefix", "--state", "--port"], &[])?;
    if let Some(extra) = args.positional.first() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    Ok(ReviewArgs {
        bucket: args.required("--bucket")?.to_string(),
        prefix: args.value("--prefix").map(String::from),
        state: args
            .choice("--state", &["captioned", "failed", "skipped"])?
            .map(String::from),
        port: args.number("--port", 1, 65_535)?.unwrap_or(0) as u16,
    })
}

pub async fn run(args: ReviewArgs) -> ExitCode {
    let pipeline = match super::pipeline_for_edits().await {
        Ok(pipeline) => pipeline,
        Err(code) => return code,
    };
    let listener = match TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on 127.0.0.1:{}: {err}", args.port);
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(args.port, |a| a.port());
    let review = Arc::new(Review {
        pipeline,
        bucket: args.bucket,
        token: random_token(),
        port,
        edits: tokio::sync::Mutex::new(()),
    });
    let first = page::query(&[
        ("token", review.token.as_str()),
        ("prefix", args.prefix.as_deref().unwrap_or_default()),
        ("state", args.state.as_deref().unwrap_or_default()),
    ]);
    println!("Review page: http://127.0.0.1:{port}/?{first}");
    println!("(Ctrl-C stops it)");
    serve(listener, review).await
}

/// Answers connections until the process is stopped.
async fn serve<S, R>(listener: TcpListener, review: Arc<Review<S, R>>) -> ExitCode
where
    S: crate::store::ObjectStore + 'static,
    R: crate::store::RecordStore + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                eprintln!("error: {err}");
                continue;
            }
        };
        let review = Arc::clone(&review);
        tokio::spawn(async move {
            let service = service_fn(move |request| Arc::clone(&review).answer(request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// 128 random bits from the operating system, as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random numbers");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
