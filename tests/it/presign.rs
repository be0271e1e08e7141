//! The presigned GetObject URL: checked with an independent SigV4 implementation, and
//! against the local S3 (SeaweedFS), which verifies signatures as S3 does: it refuses a
//! tampered, an expired, a wrong-secret and a wrong-version URL, so the suite knows every
//! URL it sees accepted is really signed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{ACCESS_KEY, REGION, SECRET_KEY, Stack, percent_encode, sample};
use hmac::{Hmac, Mac};
use s3_alt_text::store::{ObjectId, ObjectStore, S3Store};
use sha2::{Digest, Sha256};

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The SigV4 query-string signature of a GET of `bucket/key` as presigned in `url`.
fn expected_signature(url: &reqwest::Url, bucket: &str, key: &str, secret: &str) -> String {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (percent_encode(&k, false), percent_encode(&v, false)))
        .collect();
    params.sort();
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let canonical = format!(
        "GET\n/{bucket}/{}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        percent_encode(key, true)
    );
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .unwrap()
            .1
            .to_string()
    };
    let amz_date = param("X-Amz-Date");
    let scope = format!("{}/{REGION}/s3/aws4_request", &amz_date[..8]);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), &amz_date[..8]);
    let k_region = hmac(&k_date, REGION);
    let k_service = hmac(&k_region, "s3");
    let k_signing = hmac(&k_service, "aws4_request");
    hex::encode(hmac(&k_signing, &string_to_sign))
}

fn param(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[tokio::test]
async fn presigned_urls_carry_a_valid_sigv4_signature_and_the_configured_expiry() {
    let stack = Stack::new("presign").await;
    let store = S3Store::new(stack.s3.clone());
    let key = "uploads/été/café crème + lait (1).jpg";
    let id = ObjectId {
        bucket: stack.bucket.clone(),
        key: key.into(),
        version_id: Some("3HL4kqtJlcpXroDTDmJ+HN.pO".into()),
    };

    for ttl in [60, 30] {
        let presigned = store
            .presign_get(&id, Duration::from_secs(ttl))
            .await
            .unwrap();
        let url = reqwest::Url::parse(presigned.expose()).unwrap();

        assert_eq!(param(&url, "X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
        assert_eq!(param(&url, "X-Amz-Expires"), ttl.to_string());
        assert_eq!(param(&url, "X-Amz-SignedHeaders"), "host");
        assert_eq!(param(&url, "versionId"), "3HL4kqtJlcpXroDTDmJ+HN.pO");
        let amz_date = param(&url, "X-Amz-Date");
        assert_eq!(
            param(&url, "X-Amz-Credential"),
            format!("{ACCESS_KEY}/{}/{REGION}/s3/aws4_request", &amz_date[..8])
        );

        // Signed now, so it expires `ttl` seconds from now.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let signed_at = time_of(&amz_date);
        assert!(signed_at.abs_diff(now) <= 5, "signed at {amz_date}");

        // The path names the object, and the signature is the one SigV4 prescribes.
        let decoded: String = percent_decode(url.path());
        assert_eq!(decoded, format!("/{}/{key}", stack.bucket));
        let signature = param(&url, "X-Amz-Signature");
        assert_eq!(
            signature,
            expected_signature(&url, &stack.bucket, key, SECRET_KEY)
        );

        // The check is discriminating: another key, secret or expiry gives another signature.
        assert_ne!(
            signature,
            expected_signature(&url, &stack.bucket, "uploads/other.jpg", SECRET_KEY)
        );
        assert_ne!(
            signature,
            expected_signature(&url, &stack.bucket, key, "not-the-secret")
        );
        let mut longer = url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    if k == "X-Amz-Expires" {
                        "604800".into()
                    } else {
                        v.to_string()
                    },
                )
            })
            .collect();
        longer.query_pairs_mut().clear().extend_pairs(pairs);
        assert_ne!(
            signature,
            expected_signature(&longer, &stack.bucket, key, SECRET_KEY)
        );
    }
}

#[tokio::test]
async fn every_presign_is_fresh() {
    let stack = Stack::new("presign-fresh").await;
    let store = S3Store::new(stack.s3.clone());
    let id = ObjectId {
        bucket: stack.bucket.clone(),
        key: "a.jpg".into(),
        version_id: None,
    };
    let first = store
        .presign_get(&id, Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = store
        .presign_get(&id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_ne!(first, second);
    let date = |p: &s3_alt_text::secret::PresignedUrl| {
        param(&reqwest::Url::parse(p.expose()).unwrap(), "X-Amz-Date")
    };
    assert!(date(&second) > date(&first));
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Seconds since the epoch of an `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`).
fn time_of(amz_date: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| amz_date[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)) as u64
}

/// An S3 store signing with `secret` instead of the stack's.
async fn store_with_secret(stack: &Stack, secret: &str) -> S3Store {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, secret, None, None, "tests",
        ))
        .endpoint_url(&stack.s3_endpoint)
        .load()
        .await;
    S3Store::new(aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    ))
}

async fn status(url: &str) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_local_s3_refuses_every_url_that_is_not_rightly_signed() {
    let stack = Stack::versioned("presign-refused").await;
    let key = "uploads/café crème.jpg";
    let (v1, _) = stack.put_version(key, sample("coffee.jpg")).await;
    let (v2, _) = stack.put_version(key, sample("cat.jpg")).await;
    let store = S3Store::new(stack.s3.clone());
    let id = |version: &str| ObjectId {
        bucket: stack.bucket.clone(),
        key: key.into(),
        version_id: Some(version.into()),
    };
    let url = store
        .presign_get(&id(&v1), Duration::from_secs(60))
        .await
        .unwrap();
    let url = url.expose().to_string();
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status().as_u16(), 200, "the URL as presigned");
    assert_eq!(
        fetched.bytes().await.unwrap(),
        sample("coffee.jpg"),
        "version 1's bytes"
    );

    // Tampered: one character of the signature changed.
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[at..at + 1] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &url[..at], &url[at + 1..]);
    assert_eq!(status(&tampered).await, 403, "a tampered signature");
    // Another version than the one signed for.
    let other_version = url.replace(
        &format!("versionId={}", percent_encode(&v1, false)),
        &format!("versionId={}", percent_encode(&v2, false)),
    );
    assert_ne!(other_version, url);
    assert_eq!(status(&other_version).await, 403, "another version");
    // Signed with another secret.
    let forged = store_with_secret(&stack, "not-the-secret")
        .await
        .presign_get(&id(&v1), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(status(forged.expose()).await, 403, "a wrong secret");
    // No signature at all.
    let bare = url.split('?').next().unwrap();
    assert_eq!(status(bare).await, 403, "an anonymous read");
    // Expired.
    let short = store
        .presign_get(&id(&v1), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(status(short.expose()).await, 200, "before it expires");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(status(short.expose()).await, 403, "after it expired");
}
