//! Reading a request body up to a limit.

use bytes::Bytes;
use futures_util::StreamExt;
use poem::Body;
use poem::error::ReadBodyError;

/// The body, at most `limit` bytes (`PayloadTooLarge` beyond), read frame by frame.
///
/// poem's `Body::into_bytes_limit` reads through a 4 KiB array that lives in its future: every
/// caller's future grows by 4.2 KB, zeroed and copied each time the request's future is moved
/// or boxed (issue 7's profile: a gateway verification's future was 4.3 KB, 4.2 of it this
/// buffer). Here a body that arrives in one frame, as the gateways' small JSON bodies do, is
/// returned as it came, without a copy.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ReadBodyError> {
    let mut frames = std::pin::pin!(body.into_bytes_stream());
    // The only frame so far, kept as it came; `joined` once a second one arrives.
    let mut only: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) = frames.next().await {
        let frame = frame?;
        len += frame.len();
        if len > limit {
            return Err(ReadBodyError::PayloadTooLarge);
        }
        if only.is_none() && joined.is_empty() {
            only = Some(frame);
            continue;
        }
        if let Some(held) = only.take() {
            joined.extend_from_slice(&held);
        }
        joined.extend_from_slice(&frame);
    }
    Ok(only.unwrap_or_else(|| Bytes::from(joined)))
}

#[cfg(test)]
mod tests {
    use futures_util::stream;

    use super::*;

    fn chunked(parts: &[&'static str]) -> Body {
        Body::from_bytes_stream(stream::iter(
            parts
                .iter()
                .map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p.as_bytes())))
                .collect::<Vec<_>>(),
        ))
    }

    #[tokio::test]
    async fn reads_one_frame_many_frames_and_none() {
        assert_eq!(
            read_body(Body::from_bytes(Bytes::from_static(b"{}")), 2)
                .await
                .unwrap(),
            "{}"
        );
        assert_eq!(
            read_body(chunked(&["ab", "", "cd", "e"]), 5).await.unwrap(),
            "abcde"
        );
        assert_eq!(read_body(chunked(&["", "ab"]), 5).await.unwrap(), "ab");
        assert!(read_body(Body::empty(), 0).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn refuses_a_body_over_the_limit_in_one_frame_or_across_frames() {
        for body in [
            Body::from_bytes(Bytes::from_static(b"abc")),
            chunked(&["ab", "c"]),
        ] {
            assert!(matches!(
                read_body(body, 2).await,
                Err(ReadBodyError::PayloadTooLarge)
            ));
        }
    }

    #[tokio::test]
    async fn a_failing_stream_is_an_io_error() {
        let failing = Body::from_bytes_stream(stream::iter(vec![
            Ok(Bytes::from_static(b"a")),
            Err(std::io::Error::other("reset")),
        ]));
        assert!(matches!(
            read_body(failing, 10).await,
            Err(ReadBodyError::Io(_))
        ));
    }
}
