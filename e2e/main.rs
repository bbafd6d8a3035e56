mod cli;
mod common;
mod faults;
mod foundation;
mod payload;
mod sync;
