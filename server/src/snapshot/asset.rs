//! A response body prepared once per snapshot, with an ETag, served to every reader
//! until the next change. Its gzip and brotli forms are made once, off the path of the
//! change that produced it (see [`Asset::compress`]); until then readers get it plain.

use std::{
    collections::HashMap,
    io::Write as _,
    sync::{Arc, OnceLock},
};

use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
    web::Bytes,
};
use sha2::{Digest, Sha256};

/// How long caches in front may keep a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Pages and documents: short, and served stale while revalidating or on error.
    Live,
    /// Fingerprinted static files.
    Immutable,
    /// Errors and one-off answers.
    NoStore,
}

impl Caching {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Caching::Live => "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400",
            Caching::Immutable => "public, max-age=31536000, immutable",
            Caching::NoStore => "no-store",
        })
    }
}

#[derive(Debug)]
pub struct Asset {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub caching: Caching,
    /// `Access-Control-Allow-Origin: *` (the public JSON API and feeds).
    pub cors: bool,
    pub etag: String,
    /// The ETag header of each representation: identity, gzip, brotli.
    tags: [HeaderValue; 3],
    pub identity: Bytes,
    compressed: OnceLock<Compressed>,
}

#[derive(Debug, Default)]
struct Compressed {
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
}

impl Asset {
    /// A file served unchanged for the process's life, compressed as hard as possible.
    pub fn new(
        content_type: &'static str,
        body: impl Into<Vec<u8>>,
        caching: Caching,
        cors: bool,
    ) -> Asset {
        let body: Vec<u8> = body.into();
        let a = Asset::plain(
            etag_of(&body),
            StatusCode::OK,
            content_type,
            body,
            caching,
            cors,
        );
        a.compress(Effort::Once);
        a
    }

    /// What a page that could not be rendered answers.
    pub fn error_page() -> Asset {
        Asset::plain(
            etag_of(super::FALLBACK_500.as_bytes()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/html; charset=utf-8",
            super::FALLBACK_500.as_bytes().to_vec(),
            Caching::NoStore,
            false,
        )
    }

    /// Makes the gzip and brotli forms, once; later calls do nothing.
    pub fn compress(&self, effort: Effort) {
        self.compressed.get_or_init(|| {
            let body = &self.identity;
            if body.len() <= 256 {
                return Compressed::default();
            }
            let smaller = |z: Vec<u8>| (z.len() < body.len()).then(|| Bytes::from(z));
            Compressed {
                gzip: gzip(body, effort).and_then(smaller),
                brotli: brotli(body, effort).and_then(smaller),
            }
        });
    }

    pub fn is_compressed(&self) -> bool {
        self.compressed.get().is_some()
    }

    pub fn gzip(&self) -> Option<&Bytes> {
        self.compressed.get().and_then(|c| c.gzip.as_ref())
    }

    pub fn brotli(&self) -> Option<&Bytes> {
        self.compressed.get().and_then(|c| c.brotli.as_ref())
    }

    fn plain(
        etag: String,
        status: StatusCode,
        content_type: &'static str,
        body: Vec<u8>,
        caching: Caching,
        cors: bool,
    ) -> Asset {
        let tag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{etag}{suffix}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
        };
        Asset {
            status,
            content_type,
            caching,
            cors,
            tags: [tag(""), tag("-gz"), tag("-br")],
            etag,
            identity: Bytes::from(body),
            compressed: OnceLock::new(),
        }
    }

    /// Answers `req`: 304 when its `If-None-Match` names this version, else the best
    /// encoding it accepts.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let accept = req
            .headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let accepts = |coding: &str| {
            accept.split(',').any(|part| {
                let mut it = part.trim().split(';');
                let name = it.next().unwrap_or("").trim();
                let q_zero = it.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .is_some_and(|q| q.trim().parse::<f32>().unwrap_or(1.0) <= 0.0)
                });
                name.eq_ignore_ascii_case(coding) && !q_zero
            })
        };
        let (body, coding, tag) = match (self.brotli(), self.gzip()) {
            (Some(b), _) if accepts("br") => (b, Some("br"), &self.tags[2]),
            (_, Some(g)) if accepts("gzip") => (g, Some("gzip"), &self.tags[1]),
            _ => (&self.identity, None, &self.tags[0]),
        };
        let status = self.status;
        let not_modified = status == StatusCode::OK
            && req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.split(',').any(|t| {
                        t.trim() == "*"
                            || t.trim()
                                .trim_start_matches("W/")
                                .trim_matches('"')
                                .split('-')
                                .next()
                                == Some(self.etag.as_str())
                    })
                });
        let mut res = HttpResponse::build(if not_modified {
            StatusCode::NOT_MODIFIED
        } else {
            status
        });
        // Header values are static: this runs on every public request.
        res.insert_header((header::CACHE_CONTROL, self.caching.header()))
            .insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
        // The security headers every response carries are added by `http::security`.
        if status == StatusCode::OK {
            res.insert_header((header::ETAG, tag.clone()));
        }
        if self.cors {
            res.insert_header((
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ));
        }
        if not_modified {
            return res.finish();
        }
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        ));
        if let Some(c) = coding {
            res.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static(c)));
        }
        res.body(body.clone())
    }
}

fn etag_of(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .take(10)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The assets of the previous snapshot by ETag, so that a rebuild keeps (and does not
/// compress again) every document whose bytes did not change.
#[derive(Default)]
pub struct Reuse(HashMap<String, Arc<Asset>>);

impl Reuse {
    pub fn from<'a>(previous: impl IntoIterator<Item = &'a Arc<Asset>>) -> Reuse {
        Reuse(
            previous
                .into_iter()
                .map(|a| (a.etag.clone(), a.clone()))
                .collect(),
        )
    }

    pub fn asset(
        &self,
        status: StatusCode,
        content_type: &'static str,
        body: impl Into<Vec<u8>>,
        caching: Caching,
        cors: bool,
    ) -> Arc<Asset> {
        let body: Vec<u8> = body.into();
        let etag = etag_of(&body);
        match self.0.get(&etag) {
            Some(a)
                if a.status == status
                    && a.content_type == content_type
                    && a.caching == caching
                    && a.cors == cors =>
            {
                a.clone()
            }
            _ => Arc::new(Asset::plain(
                etag,
                status,
                content_type,
                body,
                caching,
                cors,
            )),
        }
    }
}

/// How hard to compress: the most for files compressed once at start, a level that
/// costs a few milliseconds for documents rebuilt on every change (brotli 5 is about
/// ten times faster than 9 for a few per cent more bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Once,
    Often,
}

fn gzip(body: &[u8], effort: Effort) -> Option<Vec<u8>> {
    let level = match effort {
        Effort::Once => flate2::Compression::best(),
        Effort::Often => flate2::Compression::new(6),
    };
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), level);
    enc.write_all(body).ok()?;
    enc.finish().ok()
}

fn brotli(body: &[u8], effort: Effort) -> Option<Vec<u8>> {
    let quality = match effort {
        Effort::Once => 11,
        Effort::Often => 5,
    };
    // A window no larger than the body: the encoder's tables grow with it.
    let lgwin = (usize::BITS - body.len().leading_zeros()).clamp(16, 22);
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, quality, lgwin);
        w.write_all(body).ok()?;
        w.flush().ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn unchanged_bytes_reuse_the_compressed_asset() {
        let body = "same ".repeat(200);
        let first = Arc::new(Asset::new("text/plain", body.clone(), Caching::Live, false));
        let reuse = Reuse::from([&first]);
        let again = reuse.asset(
            StatusCode::OK,
            "text/plain",
            body.clone(),
            Caching::Live,
            false,
        );
        assert!(Arc::ptr_eq(&first, &again));
        let other = reuse.asset(
            StatusCode::OK,
            "text/plain",
            body + "!",
            Caching::Live,
            false,
        );
        assert!(!Arc::ptr_eq(&first, &other));
        let as_json = reuse.asset(
            StatusCode::OK,
            "application/json",
            "same ".repeat(200),
            Caching::Live,
            false,
        );
        assert!(
            !Arc::ptr_eq(&first, &as_json),
            "a different content type is a different asset"
        );
    }

    #[test]
    fn picks_brotli_then_gzip_and_answers_304() {
        let a = Asset::new("text/plain", "hello ".repeat(200), Caching::Live, false);
        let req = TestRequest::default()
            .insert_header((header::ACCEPT_ENCODING, "gzip, br"))
            .to_http_request();
        let res = a.respond(&req);
        assert_eq!(
            res.headers()
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok()),
            Some("br")
        );
        let req = TestRequest::default()
            .insert_header((header::ACCEPT_ENCODING, "gzip, br;q=0"))
            .to_http_request();
        assert_eq!(
            a.respond(&req)
                .headers()
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok()),
            Some("gzip")
        );
        let req = TestRequest::default().to_http_request();
        let res = a.respond(&req);
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
        let etag = res
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, etag))
            .to_http_request();
        assert_eq!(a.respond(&req).status(), StatusCode::NOT_MODIFIED);
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, format!("\"{}-br\"", a.etag)))
            .to_http_request();
        assert_eq!(a.respond(&req).status(), StatusCode::NOT_MODIFIED);
    }
}
