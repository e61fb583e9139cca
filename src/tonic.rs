//! tonic 0.14 integration (feature `tonic`).
