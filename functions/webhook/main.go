// Command webhook is the Lambda function behind POST /gitlab. Work that
// outlasts its budget continues as a job of the interactions function.
package main

import "github.com/sdesk/sdesk/pkg/app"

func main() { app.LambdaMain(app.LambdaWebhook) }
