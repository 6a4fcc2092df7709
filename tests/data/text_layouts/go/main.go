// Command go_layouts writes the sample lines of the Go text layouts: the standard library's log
// package, log/slog's TextHandler (golang.org/x/exp/slog, the same handler before Go 1.21) and
// logrus's TextFormatter, each under a "## <format> <library>" heading. It dials a closed local
// port so the error lines carry a real error value.
package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/exp/slog"
)

func dial() error {
	c, err := net.DialTimeout("tcp", "127.0.0.1:9", time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

func main() {
	fmt.Println("## go_log std")
	std := log.New(os.Stdout, "", log.LstdFlags|log.LUTC)
	std.Printf("POST /api/tickets rid=%s attempt=%d", "7f3a9c21", 1)
	std.Printf("upstream call failed: %v", dial())
	fmt.Println("## go_log std-microseconds")
	micro := log.New(os.Stdout, "", log.LstdFlags|log.Lmicroseconds|log.LUTC)
	micro.Printf("POST /api/tickets rid=%s attempt=%d", "7f3a9c21", 1)
	micro.Printf("upstream call failed: %v", dial())

	fmt.Println("## go_slog_text slog")
	sl := slog.New(slog.NewTextHandler(os.Stdout))
	sl.Info("request started", "method", "POST", "path", "/api/tickets", "rid", "7f3a9c21")
	sl.Warn("retrying", "attempt", 2, "backoff", 250*time.Millisecond)
	sl.Error("upstream call failed", dial(), "rid", "7f3a9c21", "status", 502)
	sl.Info("done")

	fmt.Println("## logrus_text logrus")
	lr := logrus.New()
	lr.Out = os.Stdout
	lr.Formatter = &logrus.TextFormatter{DisableColors: true, FullTimestamp: true}
	lr.WithFields(logrus.Fields{"method": "POST", "path": "/api/tickets", "rid": "7f3a9c21"}).Info("request started")
	lr.WithField("attempt", 2).Warn("retrying")
	lr.WithError(dial()).WithField("rid", "7f3a9c21").Error("upstream call failed")
	lr.Info("done")
}
