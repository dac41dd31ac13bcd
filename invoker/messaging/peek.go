package messaging

import "math"

// MinMemoryMB is OpenWhisk's MemoryLimit.MIN_MEMORY (whisk.memory.min): the smallest action memory limit.
const MinMemoryMB = 128

// MaxPeek is the number of activations an invoker takes from Kafka before any finishes
// (InvokerReactive, docs/protocol.md#consumer): with maximumContainers = userMemoryMB / 128,
// maxPeek = max(maximumContainers, floor(maximumContainers × concurrencyMax × peekFactor)).
// The defaults (1024 MB, concurrency 1, factor 0.5) give 8. It is never below 1, so a tiny memory
// budget still makes progress.
func MaxPeek(userMemoryMB int, concurrencyMax int, peekFactor float64) int {
	maximumContainers := userMemoryMB / MinMemoryMB
	concurrent := int(math.Floor(float64(maximumContainers) * float64(concurrencyMax) * peekFactor))
	return max(maximumContainers, concurrent, 1)
}
