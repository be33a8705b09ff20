"""`fraudstream flink`: the account-feature job on Apache Flink (PyFlink MiniCluster, Java 17)."""
