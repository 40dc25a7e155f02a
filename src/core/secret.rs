//! Secret references (`env:`, `file:`, `raw:`) and the `Secret` type that redacts itself.
//!
//! Pure parsing and types; resolving a reference (reading env or files) lives in `shell::secrets`.
