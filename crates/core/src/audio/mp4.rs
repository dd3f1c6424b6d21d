//! Just enough ISO-BMFF (MP4/M4A) parsing to read the audio track's edit list.
//!
//! AAC encoders prepend priming samples (1024 for ffmpeg's and Apple's encoders, 2112 in
//! older iTunes files) and pad the last frame. The container records the playable span in the
//! `elst` box of the track: `media_time` is where playback starts (media timescale) and
//! `segment_duration` how long it lasts (movie timescale). ffmpeg applies it, and `librosa.load`
//! reads M4A through audioread's ffmpeg backend, so we apply it too; symphonia 0.6 parses and then
//! drops it (symphonia issue #544).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The first edit of an audio track's edit list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditList {
    /// Movie timescale (`mvhd`), the unit of `segment_duration`.
    pub movie_timescale: u32,
    /// Media timescale (`mdhd`), the unit of `media_time`.
    pub media_timescale: u32,
    /// Playable duration in movie timescale units; 0 means "to the end".
    pub segment_duration: u64,
    /// Start of playback in media timescale units.
    pub media_time: i64,
}

impl EditList {
    fn rescale(value: u64, from: u32, to: u32) -> u64 {
        ((value as u128 * to as u128 + from as u128 / 2) / from.max(1) as u128) as u64
    }

    /// Frames to drop at the start, at `sample_rate`.
    pub fn media_start_frames(&self, sample_rate: u32) -> u64 {
        Self::rescale(
            self.media_time.max(0) as u64,
            self.media_timescale,
            sample_rate,
        )
    }
}

const MAX_BOX_DEPTH: usize = 8;

struct BoxHeader {
    kind: [u8; 4],
    /// Offset of the payload.
    start: u64,
    /// Offset just past the box.
    end: u64,
}

fn read_header<R: Read + Seek>(r: &mut R, limit: u64) -> std::io::Result<Option<BoxHeader>> {
    let pos = r.stream_position()?;
    if pos + 8 > limit {
        return Ok(None);
    }
    let mut head = [0u8; 8];
    r.read_exact(&mut head)?;
    let mut size = u32::from_be_bytes(head[..4].try_into().unwrap()) as u64;
    let kind: [u8; 4] = head[4..].try_into().unwrap();
    let mut start = pos + 8;
    if size == 1 {
        let mut big = [0u8; 8];
        r.read_exact(&mut big)?;
        size = u64::from_be_bytes(big);
        start += 8;
    } else if size == 0 {
        size = limit - pos;
    }
    let end = pos.saturating_add(size);
    if size < start - pos || end > limit {
        return Ok(None);
    }
    Ok(Some(BoxHeader { kind, start, end }))
}

fn read_u32<R: Read>(r: &mut R) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn read_u64<R: Read>(r: &mut R) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_be_bytes(b))
}

/// Timescale from an `mvhd` or `mdhd` payload (same layout up to the timescale).
fn read_timescale<R: Read + Seek>(r: &mut R, start: u64) -> std::io::Result<u32> {
    r.seek(SeekFrom::Start(start))?;
    let version = read_u32(r)? >> 24;
    let skip = if version == 1 { 16 } else { 8 }; // creation + modification times
    r.seek(SeekFrom::Current(skip))?;
    read_u32(r)
}

#[derive(Default)]
struct TrackScan {
    is_audio: bool,
    media_timescale: Option<u32>,
    first_edit: Option<(u64, i64)>,
}

fn scan_track<R: Read + Seek>(
    r: &mut R,
    start: u64,
    end: u64,
    depth: usize,
    scan: &mut TrackScan,
) -> std::io::Result<()> {
    if depth > MAX_BOX_DEPTH {
        return Ok(());
    }
    r.seek(SeekFrom::Start(start))?;
    while let Some(b) = read_header(r, end)? {
        match &b.kind {
            b"mdia" | b"edts" => scan_track(r, b.start, b.end, depth + 1, scan)?,
            b"mdhd" => scan.media_timescale = Some(read_timescale(r, b.start)?),
            b"hdlr" => {
                r.seek(SeekFrom::Start(b.start + 8))?; // version/flags + pre_defined
                let mut handler = [0u8; 4];
                r.read_exact(&mut handler)?;
                scan.is_audio = &handler == b"soun";
            }
            b"elst" => {
                r.seek(SeekFrom::Start(b.start))?;
                let version = read_u32(r)? >> 24;
                let count = read_u32(r)?;
                // An initial empty edit (media_time -1) only delays the track; take the first
                // edit that maps media.
                for _ in 0..count.min(16) {
                    let (duration, media_time) = if version == 1 {
                        (read_u64(r)?, read_u64(r)? as i64)
                    } else {
                        (read_u32(r)? as u64, read_u32(r)? as i32 as i64)
                    };
                    read_u32(r)?; // media rate
                    if media_time >= 0 {
                        scan.first_edit = Some((duration, media_time));
                        break;
                    }
                }
            }
            _ => {}
        }
        r.seek(SeekFrom::Start(b.end))?;
    }
    Ok(())
}

/// Read the edit list of the first audio track of an MP4/M4A file. `Ok(None)` when the file has
/// no `moov`, no audio track or no edit list.
pub fn read_edit_list(path: &Path) -> std::io::Result<Option<EditList>> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut movie_timescale = None;
    while let Some(top) = read_header(&mut file, file_len)? {
        if &top.kind == b"moov" {
            file.seek(SeekFrom::Start(top.start))?;
            while let Some(b) = read_header(&mut file, top.end)? {
                match &b.kind {
                    b"mvhd" => movie_timescale = Some(read_timescale(&mut file, b.start)?),
                    b"trak" => {
                        let mut scan = TrackScan::default();
                        scan_track(&mut file, b.start, b.end, 0, &mut scan)?;
                        if scan.is_audio {
                            return Ok(
                                match (movie_timescale, scan.media_timescale, scan.first_edit) {
                                    (Some(movie), Some(media), Some((duration, time))) => {
                                        Some(EditList {
                                            movie_timescale: movie,
                                            media_timescale: media,
                                            segment_duration: duration,
                                            media_time: time,
                                        })
                                    }
                                    _ => None,
                                },
                            );
                        }
                    }
                    _ => {}
                }
                file.seek(SeekFrom::Start(b.end))?;
            }
            return Ok(None);
        }
        file.seek(SeekFrom::Start(top.end))?;
    }
    Ok(None)
}
