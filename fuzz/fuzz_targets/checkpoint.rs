//! Fuzz the checkpoint readers on arbitrary bytes: the pickle machine (both storage layouts),
//! legacy torch files, zip torch archives and safetensors. Any panic, hang or huge allocation is
//! a bug; errors are the expected outcome.
#![no_main]

use earshot_core::checkpoint::pickle::{StorageLayout, Unpickler};
use earshot_core::checkpoint::{safetensors, torch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Unpickler::new(data, StorageLayout::Zip).load();
    let _ = Unpickler::new(data, StorageLayout::Legacy).load();
    let _ = torch::read_legacy(data);
    let _ = torch::read_zip(std::io::Cursor::new(data));
    let _ = safetensors::parse(data);
});
