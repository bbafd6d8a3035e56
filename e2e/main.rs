mod cli;
mod common;
mod faults;
mod foundation;
mod hostile;
mod listener;
mod payload;
mod sync;
