// Writes lines with Go's standard "log" package: date, time with microseconds, file:line.
// Each message carries the UTC instant read just before it was logged, so a reader can check
// the timestamp it parses (the log package writes local time, without an offset).
package main

import (
	"errors"
	"log"
	"os"
	"time"
)

func utc() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.Lshortfile)
	log.SetOutput(os.Stdout)
	log.Printf("listening on 127.0.0.1:8080 utc=%s", utc())
	for i := 1; i <= 3; i++ {
		log.Printf("GET /api/orders/%d 200 in %dms utc=%s", i, 3*i, utc())
		time.Sleep(2 * time.Millisecond)
	}
	err := errors.New("dial tcp 10.0.0.7:5432: connect: connection refused")
	log.Printf("db ping failed: %v utc=%s", err, utc())
}
