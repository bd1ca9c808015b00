// Logs in with node-postgres (pg) and prints the session's user, or the SQLSTATE and
// message of the failure (exit status 1):
//   NODE_PATH=.../node_modules node login.js HOST PORT DATABASE USER PASSWORD
const { Client } = require('pg');

const [host, port, database, user, password] = process.argv.slice(2);
const client = new Client({ host, port: Number(port), database, user, password });
client
  .connect()
  .then(() => client.query('SELECT current_user AS u'))
  .then((result) => {
    console.log(result.rows[0].u);
    return client.end();
  })
  .catch((error) => {
    console.log(`${error.code} ${error.message}`);
    process.exit(1);
  });
