// Command interactions is the Lambda function behind POST /interactions. It
// also runs the deferred jobs it sends to itself.
package main

import "github.com/sdesk/sdesk/pkg/app"

func main() { app.LambdaMain(app.LambdaInteractions) }
