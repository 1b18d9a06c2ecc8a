package statsdb

import (
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/useragent"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/stats/aggregate"
)

// rawRows turns events into rows of the clicks table, in rawClickCols
// order; ts converts the time to the database's representation.
func rawRows(evs []clickevents.Event, ts func(time.Time) any) [][]any {
	var ua useragent.Cache
	out := make([][]any, len(evs))
	for i := range evs {
		e := &evs[i]
		agent := ua.Parse(e.UserAgent)
		var visitor any // NULL when unknown
		if e.Visitor != 0 {
			visitor = int64(e.Visitor)
		}
		out[i] = []any{ts(e.Time), e.Code, e.LinkID, visitor, aggregate.ReferrerHost(e.Referrer),
			e.Country, agent.Device, agent.Browser, agent.OS, e.Bot || agent.IsBot(), int16(e.Status),
			workspace.Of(e.Workspace), e.Domain, smartlink.Choice(e.Choice).String()}
	}
	return out
}
