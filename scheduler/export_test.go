package scheduler

// HeldContainers is how many containers the controller holds suspended (for the external tests' drain check).
func HeldContainers(c *Controller) int { return len(c.heldAt) }
