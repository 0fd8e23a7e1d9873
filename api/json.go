package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
)

// jsonSerializer is echo's JSON serializer with the same output (one value
// and a newline, HTML-escaped, indented for ?pretty) encoded into a pooled
// buffer and written in one piece with its Content-Length, so that a body
// larger than net/http's 2 KiB buffer is not sent chunked.
type jsonSerializer struct {
	echo.DefaultJSONSerializer
}

// jsonBufs are the buffers of jsonSerializer; one larger than maxPooledJSON
// is left to the garbage collector.
var jsonBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledJSON = 64 << 10

// Serialize writes i as JSON to c's response.
func (jsonSerializer) Serialize(c echo.Context, i any, indent string) error {
	buf := jsonBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledJSON {
			jsonBufs.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(i); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(buf.Len()))
	_, err := c.Response().Write(buf.Bytes())
	return err
}
