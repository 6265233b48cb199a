//! Shared bits for the example bots.
