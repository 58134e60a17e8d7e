package dynamo

// SetPageSize sets the Limit of each Query that Mappings makes (0:
// DynamoDB's own), so that tests make it read many pages.
func SetPageSize(s *Store, n int32) { s.pageSize = n }
