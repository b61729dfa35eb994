//! xvs-wire: zero-copy packet views, in-place rewrite and RFC 1624 checksums.
