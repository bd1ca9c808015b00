// Prints what pgjdbc's DatabaseMetaData and ResultSetMetaData answer about the schema
// of tests/jdbc_metadata.rs, one section per call: a line "== call", the result set's
// column labels, then its rows, cells separated by tabs (NULL for a null). A call that
// fails prints "ERROR SQLSTATE message" in its section. Run as a single-file program:
//   java -cp postgresql.jar Metadata.java JDBC_URL USER PASSWORD
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;

public class Metadata {
    interface Call {
        ResultSet run(DatabaseMetaData meta) throws SQLException;
    }

    public static void main(String[] args) throws SQLException {
        try (Connection connection = DriverManager.getConnection(args[0], args[1], args[2])) {
            DatabaseMetaData meta = connection.getMetaData();
            section(meta, "getTables", m -> m.getTables(null, "public", "%", null));
            section(meta, "getColumns orders", m -> m.getColumns(null, "public", "orders", "%"));
            section(meta, "getColumns spend", m -> m.getColumns(null, "public", "spend", "%"));
            section(meta, "getPrimaryKeys orders", m -> m.getPrimaryKeys(null, "public", "orders"));
            section(meta, "getIndexInfo orders",
                    m -> m.getIndexInfo(null, "public", "orders", false, false));
            section(meta, "getImportedKeys orders",
                    m -> m.getImportedKeys(null, "public", "orders"));
            section(meta, "getExportedKeys orders",
                    m -> m.getExportedKeys(null, "public", "orders"));
            section(meta, "getTypeInfo", DatabaseMetaData::getTypeInfo);
            for (String relation : new String[] {"orders", "spend"}) {
                System.out.println("== ResultSetMetaData " + relation);
                try (Statement statement = connection.createStatement();
                        ResultSet rows = statement.executeQuery("SELECT * FROM " + relation)) {
                    columns(rows.getMetaData());
                } catch (SQLException e) {
                    System.out.println("ERROR " + e.getSQLState() + " " + e.getMessage());
                }
            }
        }
    }

    static void section(DatabaseMetaData meta, String name, Call call) {
        System.out.println("== " + name);
        try (ResultSet rows = call.run(meta)) {
            ResultSetMetaData columns = rows.getMetaData();
            StringBuilder header = new StringBuilder();
            for (int i = 1; i <= columns.getColumnCount(); i++) {
                header.append(i > 1 ? "\t" : "").append(columns.getColumnLabel(i));
            }
            System.out.println(header);
            while (rows.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= columns.getColumnCount(); i++) {
                    String value = rows.getString(i);
                    row.append(i > 1 ? "\t" : "").append(value == null ? "NULL" : value);
                }
                System.out.println(row);
            }
        } catch (SQLException e) {
            System.out.println("ERROR " + e.getSQLState() + " " + e.getMessage());
        }
    }

    /// One line per column of a query's result: what a tool reads to show it.
    static void columns(ResultSetMetaData columns) throws SQLException {
        System.out.println("name\tlabel\ttable\tschema\ttype\ttypeName\tclass\tnullable"
                + "\tprecision\tscale\tdisplaySize\tautoIncrement\tsigned\tcaseSensitive");
        for (int i = 1; i <= columns.getColumnCount(); i++) {
            System.out.println(String.join("\t", columns.getColumnName(i),
                    columns.getColumnLabel(i), columns.getTableName(i), columns.getSchemaName(i),
                    String.valueOf(columns.getColumnType(i)), columns.getColumnTypeName(i),
                    columns.getColumnClassName(i), String.valueOf(columns.isNullable(i)),
                    String.valueOf(columns.getPrecision(i)), String.valueOf(columns.getScale(i)),
                    String.valueOf(columns.getColumnDisplaySize(i)),
                    String.valueOf(columns.isAutoIncrement(i)),
                    String.valueOf(columns.isSigned(i)),
                    String.valueOf(columns.isCaseSensitive(i))));
        }
    }
}
