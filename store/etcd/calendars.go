package etcd

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// PutCalendar stores the calendar file of year as given, replacing any
// earlier one. The store does not parse it.
func (s *Store) PutCalendar(ctx context.Context, year int, data []byte) error {
	_, _, err := s.write(ctx, nil, []clientv3.Op{clientv3.OpPut(s.k("cal/"+strconv.Itoa(year)), string(data))}, nil)
	return err
}

// Calendars returns every stored calendar file by year.
func (s *Store) Calendars(ctx context.Context) (map[int][]byte, error) {
	out := map[int][]byte{}
	rel := "cal/"
	_, err := s.rangeKeys(ctx, s.k(rel), s.prefixEnd(rel), 0, 1000, false, func(kv *kvPair) (bool, error) {
		year, err := strconv.Atoi(string(kv.Key[len(s.k(rel)):]))
		if err != nil {
			return false, fmt.Errorf("etcd: bad calendar key %q", kv.Key)
		}
		out[year] = slices.Clone(kv.Value)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
