// The sign-in form the console and the reports page share (#signin, #signin-error,
// #signin-token): shown instead of the page's #app, with why the last attempt failed.

const $ = (sel) => document.querySelector(sel);

export function showSignIn(error) {
  $('#app').hidden = true;
  $('#signin').hidden = false;
  $('#signin-error').textContent = error || '';
  $('#signin-token').focus();
}
