package api

// TopLinksSQL is the statement of the TopLinks of workspace ws (0: the
// instance) on table t, and its scope's arguments, for the plan test.
func TopLinksSQL(ws int64, t string) (string, []any) {
	return (&sqlStore{ws: ws}).topLinks(t, AllTraffic)
}
