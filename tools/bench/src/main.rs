//! placeholder: the load generator arrives in its own commit.
fn main() {}
