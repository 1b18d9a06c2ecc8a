package statsdb

// SetPartRows makes a PostgreSQL DB write at most n rows per statement.
func SetPartRows(db *DB, n int) { db.be.(*pgBackend).partRows = n }

// PgSetup and PgLockRows are the write path's settings and row-locking
// statement, for the plan test.
const PgSetup = pgSetup

var PgLockRows = pgLockRows
