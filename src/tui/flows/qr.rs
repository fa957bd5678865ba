//! The invite link as a QR code in the terminal: two modules per cell with Unicode half blocks. Light modules are
//! drawn (the glyphs are the terminal's foreground), so the code reads on the usual dark background the way
//! `qrencode -t UTF8` does; a quiet zone of two modules surrounds it.

use qrcode::{Color, EcLevel, QrCode};

/// Quiet zone around the code, in modules.
const QUIET: usize = 2;

/// The rows of the code (each `width + 2·QUIET` cells wide); empty when the text does not fit a QR code.
pub(crate) fn rows(text: &str) -> Vec<String> {
    let Ok(code) = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L) else { return Vec::new() };
    let width = code.width();
    let colors = code.to_colors();
    let side = width + 2 * QUIET;
    // Light (drawn) unless it is a dark module inside the code.
    let lit = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= width + QUIET || y >= width + QUIET {
            return true;
        }
        colors.get((y - QUIET) * width + (x - QUIET)) != Some(&Color::Dark)
    };
    (0..side)
        .step_by(2)
        .map(|y| {
            (0..side)
                .map(|x| match (lit(x, y), y + 1 < side && lit(x, y + 1)) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_a_square_of_half_blocks_with_a_quiet_zone() {
        let rows = rows("http://127.0.0.1:7800/join/abc");
        let width = rows[0].chars().count();
        assert_eq!(rows.len(), width.div_ceil(2), "two modules per row");
        assert!(rows.iter().all(|r| r.chars().count() == width));
        assert!(rows[0].chars().all(|c| c == '█'), "quiet zone on top: {}", rows[0]);
        let (last, inner) = rows.split_last().unwrap();
        assert!(inner.iter().all(|r| r.starts_with("██")), "quiet zone on the left");
        assert!(last.chars().all(|c| c == '▀'), "an odd side ends on the quiet zone's upper halves: {last}");
    }
}
