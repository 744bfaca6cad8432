//! What a caller can choose about reading and writing workbooks.

use sheetbridge_core::convert::SerialEpoch;
use sheetbridge_core::{Error, ErrorKind};

/// How [`crate::XlsxWriter`] writes a table.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The sheet's name. Empty means the table's name (cut to Excel's 31
    /// characters).
    pub sheet: String,
    /// Write even when Excel or LibreOffice holds the file open (their lock
    /// file is beside it). The program keeps showing the old content and may
    /// save it back over ours.
    pub force: bool,
    /// The date system of the workbook written. Only
    /// [`SerialEpoch::Excel1900`], Excel's default, can be written.
    pub epoch: SerialEpoch,
    /// Deflate level of the zip container, 1 (fastest) to 9. Compression is
    /// most of an export's time. Default 4: measured on 1M rows × 9 columns,
    /// it writes about 30% faster than level 6 (rust_xlsxwriter's and zip's
    /// default) for a file about 5% larger.
    pub compression_level: u8,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            sheet: String::new(),
            force: false,
            epoch: SerialEpoch::Excel1900,
            compression_level: 4,
        }
    }
}

impl WriteOptions {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.epoch != SerialEpoch::Excel1900 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("workbooks can only be written in Excel's 1900 date system, not {:?}", self.epoch),
            ));
        }
        if !(1..=9).contains(&self.compression_level) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("the compression level must be 1 to 9, not {}", self.compression_level),
            ));
        }
        Ok(())
    }
}

/// How [`crate::SheetRewriter`] rewrites one sheet of an existing workbook.
#[derive(Debug, Clone)]
pub struct RewriteOptions {
    /// Rewrite even when Excel or LibreOffice holds the file open (their lock
    /// file is beside it). The program keeps showing the old content and may
    /// save it back over ours.
    pub force: bool,
    /// Deflate level of the parts written anew, 1 (fastest) to 9; parts
    /// kept are copied as they were compressed. Default 4 (see
    /// [`WriteOptions::compression_level`]).
    pub compression_level: u8,
    /// Backup copies of the previous workbook kept beside it
    /// (`.orders.xlsx.sheetbridge-backup-20261125T180725.123456Z`), newest
    /// kept, older ones removed. Default 5; 0 keeps no backup (and removes
    /// none).
    pub keep_backups: usize,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions { force: false, compression_level: 4, keep_backups: 5 }
    }
}

impl RewriteOptions {
    /// The options of the export that writes the sheet's rows.
    pub(crate) fn write_options(&self, sheet: &str) -> WriteOptions {
        WriteOptions {
            sheet: sheet.to_owned(),
            force: self.force,
            epoch: SerialEpoch::Excel1900,
            compression_level: self.compression_level,
        }
    }
}

/// Guards against workbooks built to exhaust memory or time (zip bombs).
///
/// Every part of the archive is checked before anything is inflated: its
/// declared size, and for parts larger than [`ReadLimits::ratio_from_bytes`]
/// its compression ratio. The zip reader refuses to inflate a part beyond
/// its declared size, so a part cannot lie its way past the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest inflated size of any one part (the sheet's XML, the shared
    /// strings). Default 2 GiB: a full 1,048,576-row sheet of a few dozen
    /// columns fits.
    pub max_part_bytes: u64,
    /// Largest inflated size of all parts together. Default 4 GiB.
    pub max_total_bytes: u64,
    /// Highest inflated/compressed ratio of a large part. Spreadsheet XML
    /// compresses 5–40×; deflate's ceiling, reached by bombs, is about 1000×.
    /// Default 250.
    pub max_ratio: u64,
    /// Parts smaller than this are not ratio-checked. Default 16 MiB.
    pub ratio_from_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_part_bytes: 2 << 30,
            max_total_bytes: 4 << 30,
            max_ratio: 250,
            ratio_from_bytes: 16 << 20,
        }
    }
}
