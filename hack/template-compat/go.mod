module hivesync.local/templatecompat

go 1.24
