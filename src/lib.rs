//! sheetbridge: keeps Postgres tables and spreadsheets in agreement.
