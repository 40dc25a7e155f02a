//! Request signing and verification (cronix protocol v1): payload `<ts>.<METHOD>.<path>.<body>`,
//! header `t=<ts>,v1=<hex>`, HMAC-SHA256, constant-time comparison, rotation by secret index.
//!
//! Pure: the caller passes the time and the secret bytes. Must never put a secret or a computed
//! signature into an error or a log.
