//! Amazon Bedrock: a vision model captions the image through the Converse API, with the
//! function's IAM role and no API key. The image bytes travel in the request.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::{ConverseError, ConverseOutput};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    self as bedrock, ContentBlock, ConversationRole, InferenceConfiguration, Message, StopReason,
};
use futures_util::future::BoxFuture;

use super::retry::RetryPolicy;
use super::{
    Caption, ImageBytes, ImageRequest, Limits, Provider, ProviderError, ProviderKind, http, prompt,
};
use crate::env::{ConfigError, Env};
use crate::image::ImageFormat;

/// The largest image the Converse API takes: its documented 3.75 MB, read as decimal
/// megabytes (the smaller reading), so that an image is never sent over it.
pub const MAX_BYTES: u64 = 3_750_000;
/// The longest side it takes, in pixels.
pub const MAX_SIDE: u32 = 8000;
/// Enough for a two-sentence caption in any language.
const MAX_TOKENS: i32 = 300;

/// Default model: small, cheap and able to see images.
pub const DEFAULT_MODEL: &str = "amazon.nova-lite-v1:0";

/// Bedrock's settings: the function's role is used, no key.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Model or inference profile id (`BEDROCK_MODEL_ID`).
    pub model: String,
    /// Instructions instead of the default prompt (`ALT_TEXT_PROMPT`).
    pub prompt: Option<String>,
    /// Longest wait for one model call (`BEDROCK_TIMEOUT_SECS`).
    pub timeout: Duration,
}

impl Settings {
    pub fn from_env(env: &Env, default_timeout: Duration) -> Result<Settings, ConfigError> {
        let timeout = env.number("BEDROCK_TIMEOUT_SECS", default_timeout.as_secs(), 5, 900)?;
        Ok(Settings {
            model: env
                .get("BEDROCK_MODEL_ID")
                .unwrap_or_else(|| DEFAULT_MODEL.into()),
            prompt: env.get("ALT_TEXT_PROMPT"),
            timeout: Duration::from_secs(timeout),
        })
    }
}

/// A Bedrock client that leaves retries to the provider's own policy, which stops at the
/// invocation's deadline. `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` points it elsewhere.
pub fn client(sdk: &aws_config::SdkConfig, timeout: Duration) -> aws_sdk_bedrockruntime::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(timeout)
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(
        aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            .build(),
    )
}

/// The Bedrock Converse client.
#[derive(Debug, Clone)]
pub struct Bedrock {
    client: aws_sdk_bedrockruntime::Client,
    model: String,
    timeout: Duration,
    prompt: Option<String>,
    retry: RetryPolicy,
}

/// What the Converse API takes.
const LIMITS: Limits = Limits {
    service: "Bedrock",
    formats: &[
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Gif,
        ImageFormat::Webp,
    ],
    max_bytes: MAX_BYTES,
    max_side: MAX_SIDE,
};

impl Bedrock {
    /// Builds its client over `sdk` (see [`client`]).
    pub fn new(sdk: &aws_config::SdkConfig, settings: &Settings) -> Bedrock {
        Bedrock {
            client: client(sdk, settings.timeout),
            model: settings.model.clone(),
            timeout: settings.timeout,
            prompt: settings.prompt.clone(),
            retry: RetryPolicy::default(),
        }
    }

    async fn attempt(
        &self,
        image: &ImageRequest<'_>,
        bytes: &ImageBytes,
        budget: Duration,
    ) -> Result<Caption, ProviderError> {
        let lang = image.lang();
        let block = bedrock::ImageBlock::builder()
            .format(format_of(bytes.format).expect("the bytes are of a format Bedrock takes"))
            .source(bedrock::ImageSource::Bytes(Blob::new(bytes.bytes.to_vec())))
            .build()
            .map_err(|e| ProviderError::Permanent(format!("Bedrock request: {e}")))?;
        let message = Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Image(block))
            .content(ContentBlock::Text(prompt::prompt(
                self.prompt.as_deref(),
                lang,
                image.max_chars,
                image.context,
            )))
            .build()
            .map_err(|e| ProviderError::Permanent(format!("Bedrock request: {e}")))?;
        let call = self
            .client
            .converse()
            .model_id(&self.model)
            .messages(message)
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(MAX_TOKENS)
                    .temperature(0.2)
                    .build(),
            )
            .send();
        let output = match tokio::time::timeout(budget.min(self.timeout), call).await {
            Err(_) => Err(ProviderError::Uncertain(
                "Bedrock timed out; the call may have been billed, so it is not sent again now"
                    .into(),
            )),
            Ok(result) => result.map_err(|e| classify_error(&self.model, e)),
        };
        let caption = output.and_then(|output| caption_of(&output, lang));
        http::count(image.calls, &caption);
        caption
    }
}

fn format_of(format: ImageFormat) -> Option<bedrock::ImageFormat> {
    Some(match format {
        ImageFormat::Jpeg => bedrock::ImageFormat::Jpeg,
        ImageFormat::Png => bedrock::ImageFormat::Png,
        ImageFormat::Gif => bedrock::ImageFormat::Gif,
        ImageFormat::Webp => bedrock::ImageFormat::Webp,
        _ => return None,
    })
}

impl Provider for Bedrock {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Bedrock
    }

    /// Images it does not take as they are are prepared for it.
    fn accepts(&self, image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        image.plan(&LIMITS).map(drop)
    }

    /// The bytes sent, the SDK's copy in the request and its base64 in the body (or the
    /// image's preparation, if more).
    fn memory_needed(&self, image: &ImageRequest<'_>) -> u64 {
        image.memory_for(&LIMITS, |sent| sent + http::base64_body_memory(sent))
    }

    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
        Box::pin(async move {
            let bytes = image.bytes_for(&LIMITS).await?;
            let caption = self
                .retry
                .run(image.deadline, |budget| self.attempt(image, &bytes, budget))
                .await?;
            Ok(vec![caption])
        })
    }
}

/// The caption of a finished answer. One cut off by the token limit, or stopped by a
/// guardrail or content filter, is not a caption.
fn caption_of(output: &ConverseOutput, lang: &str) -> Result<Caption, ProviderError> {
    match output.stop_reason() {
        StopReason::EndTurn | StopReason::StopSequence => {}
        StopReason::MaxTokens => {
            return Err(ProviderError::Permanent(
                "Bedrock's caption was cut off by its token limit".into(),
            ));
        }
        StopReason::GuardrailIntervened | StopReason::ContentFiltered => {
            return Err(ProviderError::Permanent(
                "Bedrock's content filter withheld the caption".into(),
            ));
        }
        other => {
            return Err(ProviderError::Permanent(format!(
                "Bedrock stopped for {}, not at the end of a caption",
                other.as_str()
            )));
        }
    }
    let text = match output.output() {
        Some(bedrock::ConverseOutput::Message(message)) => message
            .content()
            .iter()
            .filter_map(|block| block.as_text().ok())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    if text.trim().is_empty() {
        return Err(ProviderError::Permanent(
            "Bedrock returned an empty caption".into(),
        ));
    }
    Ok(Caption::new(text, lang))
}

fn classify_error(
    model: &str,
    err: SdkError<ConverseError, aws_sdk_bedrockruntime::config::http::HttpResponse>,
) -> ProviderError {
    let err = match err {
        SdkError::ServiceError(service) => service.into_err(),
        SdkError::ConstructionFailure(_) => {
            return ProviderError::Permanent("Bedrock request could not be built".into());
        }
        other => {
            // A dispatch failure may come after the request went out (a connection reset,
            // an incomplete answer), like a timeout or an unreadable answer: it may have
            // been billed, and is not sent again now.
            return match other {
                SdkError::DispatchFailure(_) => ProviderError::Uncertain(
                    "Bedrock could not be reached, or dropped the connection; the call may have been billed".into(),
                ),
                SdkError::TimeoutError(_) => ProviderError::Uncertain(
                    "Bedrock timed out; the call may have been billed".into(),
                ),
                _ => ProviderError::Uncertain(
                    "Bedrock answered unreadably; the call may have been billed".into(),
                ),
            };
        }
    };
    let code = err.code().unwrap_or("unknown").to_string();
    let detail = crate::secret::redact_urls(err.message().unwrap_or_default());
    match err {
        // Bedrock did not process these: sending again costs nothing.
        ConverseError::ThrottlingException(_)
        | ConverseError::ServiceUnavailableException(_)
        | ConverseError::ModelNotReadyException(_) => {
            ProviderError::transient(format!("Bedrock {code}: {detail}"))
        }
        // These it may have processed, and billed.
        ConverseError::InternalServerException(_) | ConverseError::ModelTimeoutException(_) => {
            ProviderError::Uncertain(format!("Bedrock {code}: {detail}"))
        }
        ConverseError::AccessDeniedException(_) => ProviderError::Permanent(format!(
            "Bedrock denied access to model {model} ({code}): enable the model in the Bedrock console and allow bedrock:InvokeModel on it. {detail}"
        )),
        ConverseError::ResourceNotFoundException(_) => ProviderError::Permanent(format!(
            "Bedrock has no model {model} here ({code}): check BEDROCK_MODEL_ID. {detail}"
        )),
        _ => ProviderError::Permanent(format!("Bedrock refused the image ({code}): {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(stop: StopReason, text: &str) -> ConverseOutput {
        let message = Message::builder()
            .role(ConversationRole::Assistant)
            .content(ContentBlock::Text(text.into()))
            .build()
            .unwrap();
        ConverseOutput::builder()
            .output(bedrock::ConverseOutput::Message(message))
            .stop_reason(stop)
            .build()
            .unwrap()
    }

    #[test]
    fn only_finished_captions_are_taken() {
        let c = caption_of(&output(StopReason::EndTurn, "A cat."), "fr").unwrap();
        assert_eq!((c.text.as_str(), c.lang.as_str()), ("A cat.", "fr"));
        for stop in [
            StopReason::MaxTokens,
            StopReason::ContentFiltered,
            StopReason::GuardrailIntervened,
            StopReason::ToolUse,
        ] {
            assert!(
                matches!(
                    caption_of(&output(stop.clone(), "A cat sitting on"), "en"),
                    Err(ProviderError::Permanent(_))
                ),
                "{stop:?}"
            );
        }
        assert!(caption_of(&output(StopReason::EndTurn, " "), "en").is_err());
    }
}
