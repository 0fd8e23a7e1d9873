package seeds

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jdz-eco/rectify/workflow"
)

// Calendars returns the working-day calendar files shipped with the seed
// data, by year, byte for byte (today only 2021, the seed plan's year), for
// workflow.Service.LoadCalendars. The format is workflow.CalendarFile. Each
// call returns fresh copies.
func Calendars() map[int][]byte {
	out := map[int][]byte{}
	entries, err := fs.ReadDir(files, "data/calendar")
	if err != nil {
		panic(err) // the directory is embedded; tests rule this out
	}
	for _, e := range entries {
		name := e.Name()
		year, err := strconv.Atoi(strings.TrimSuffix(name, path.Ext(name)))
		if err != nil || path.Ext(name) != ".json" {
			continue
		}
		b, err := files.ReadFile("data/calendar/" + name)
		if err != nil {
			panic(err)
		}
		out[year] = b
	}
	return out
}

// CalendarFor returns the shipped calendar of year, parsed with
// workflow.ParseCalendarFile; ok is false when none is shipped for that year.
func CalendarFor(year int) (c workflow.CalendarFile, ok bool, err error) {
	b, ok := Calendars()[year]
	if !ok {
		return workflow.CalendarFile{}, false, nil
	}
	c, err = workflow.ParseCalendarFile(b)
	if err == nil && c.Year != year {
		err = fmt.Errorf("calendar file %d.json holds year %d", year, c.Year)
	}
	return c, err == nil, err
}
