mod common;
mod foundation;
mod sync;
