package statsdb

// SetPartRows makes a PostgreSQL DB write at most n rows per statement.
func SetPartRows(db *DB, n int) { db.be.(*pgBackend).partRows = n }
