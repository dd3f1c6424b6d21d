//! Backbones, one family per file, each with a constructor whose variable paths spell the
//! official checkpoint's keys.

pub mod panns;
