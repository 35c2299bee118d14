package ginlimitprom

// MaxPairs is maxPairs, for the test of the bound.
const MaxPairs = maxPairs
