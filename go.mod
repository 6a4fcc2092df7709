module crm/gen

go 1.19
