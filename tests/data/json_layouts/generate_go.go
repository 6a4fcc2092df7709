package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
)

func main() {
	cause := errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
	err := fmt.Errorf("load customer 7: %w", cause)
	switch os.Args[1] {
	case "zap":
		log, _ := zap.NewProduction()
		log.Info("order accepted", zap.String("request_id", "aa11bb22"), zap.Int("status", 201))
		log.Error("order failed", zap.String("request_id", "cc33dd44"), zap.Error(err))
		log.Sync()
	case "logrus":
		logrus.SetFormatter(&logrus.JSONFormatter{})
		logrus.SetOutput(os.Stdout)
		logrus.WithFields(logrus.Fields{"request_id": "aa11bb22", "status": 201}).Info("order accepted")
		logrus.WithFields(logrus.Fields{"request_id": "cc33dd44"}).WithError(err).Error("order failed")
	}
}
