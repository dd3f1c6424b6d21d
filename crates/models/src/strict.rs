//! Strict loading of a checkpoint into a tch `VarStore`.
//!
//! tch's own `VarStore::load` ignores keys the model does not use and lets an fp16 file turn the
//! model into fp16. Here a key the model lacks, a variable the checkpoint lacks, or a shape that
//! differs is an error listing the keys; values are cast to the variable's dtype. A model family
//! declares the checkpoint keys it deliberately ignores (e.g. `*.num_batches_tracked`).

use tch::nn::VarStore;

use earshot_core::checkpoint::{Checkpoint, CheckpointError};

use crate::tensor::ToTch;
use crate::Result;

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn summarise(kind: &str, keys: &[String]) -> String {
    let shown: Vec<&str> = keys.iter().take(8).map(String::as_str).collect();
    let more = if keys.len() > shown.len() {
        format!(" and {} more", keys.len() - shown.len())
    } else {
        String::new()
    };
    format!("{} {kind}: {}{more}", keys.len(), shown.join(", "))
}

/// Copy every variable of `vs` from `ckpt`; checkpoint keys matching an `ignore` pattern may be
/// left unused.
pub fn load_into(vs: &mut VarStore, ckpt: &Checkpoint, ignore: &[&str]) -> Result<()> {
    let vars = vs.variables();
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    for (name, var) in &vars {
        match ckpt.get(name) {
            None => missing.push(name.clone()),
            Some(t) => {
                let want: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
                if want != t.shape {
                    mismatched.push(format!("{name} (model {want:?}, checkpoint {:?})", t.shape));
                }
            }
        }
    }
    let mut unexpected: Vec<String> = ckpt
        .tensors
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !vars.contains_key(*n) && !ignore.iter().any(|p| matches_pattern(p, n)))
        .cloned()
        .collect();
    missing.sort();
    mismatched.sort();
    unexpected.sort();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(summarise(
            "model variables missing from the checkpoint",
            &missing,
        ));
    }
    if !unexpected.is_empty() {
        problems.push(summarise(
            "checkpoint tensors the model does not use",
            &unexpected,
        ));
    }
    if !mismatched.is_empty() {
        problems.push(summarise("shape mismatches", &mismatched));
    }
    if !problems.is_empty() {
        return Err(CheckpointError::Mismatch(format!(
            "checkpoint does not fit the model: {}",
            problems.join("; ")
        ))
        .into());
    }
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in vars {
            let src = ckpt.get(&name).expect("checked above").to_tch()?;
            let src = src.f_to_kind(var.kind())?.f_to_device(var.device())?;
            var.f_copy_(&src)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    fn patterns() {
        assert!(matches_pattern(
            "*.num_batches_tracked",
            "bn0.num_batches_tracked"
        ));
        assert!(!matches_pattern("*.num_batches_tracked", "bn0.weight"));
        assert!(matches_pattern("sampler*", "sampler.0"));
        assert!(matches_pattern("a*b*c", "axxbyyc"));
        assert!(!matches_pattern("a*b*c", "axxbyy"));
        assert!(matches_pattern("exact", "exact"));
    }
}
