mod common;
mod foundation;
