/* placeholder: implemented by the module owner */
typedef int placeholder_form;
