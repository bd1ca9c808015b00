// Logs in with pgjdbc and prints the session's user, or the SQLSTATE and message of
// the failure (exit status 1). Run as a single-file program:
//   java -cp postgresql.jar Login.java JDBC_URL USER PASSWORD
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class Login {
    public static void main(String[] args) {
        try (Connection connection = DriverManager.getConnection(args[0], args[1], args[2]);
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT current_user AS u")) {
            rows.next();
            System.out.println(rows.getString(1));
        } catch (SQLException e) {
            System.out.println(e.getSQLState() + " " + e.getMessage());
            System.exit(1);
        }
    }
}
